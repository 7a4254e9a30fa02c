from workerlab.cli import main

main()
