from schedsync.cli.main import main

main()
