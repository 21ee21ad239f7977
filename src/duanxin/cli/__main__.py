"""``python -m duanxin.cli``: the ``duanxin`` command."""

from duanxin.cli import main

if __name__ == "__main__":
    main()
