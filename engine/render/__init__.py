"""Views of a plan: human text, markdown for PR comments (JSON is ``engine.planfile``)."""
