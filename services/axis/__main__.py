from axis.cli import main

main()
