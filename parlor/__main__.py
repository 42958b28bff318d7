from parlor.cli import main

main()
