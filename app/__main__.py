"""`python -m app serve ...`, the same as the `gradserve` command."""
from app.cli import main

raise SystemExit(main())
