from spikebench.run.cli import main

main()
