from robust3d.cli import main

raise SystemExit(main())
