"""`python -m iebench ...` (also what `torchrun -m iebench train ...` runs)."""

from iebench.cli import main

main()
