from glassbox.cli.main import main

main()
