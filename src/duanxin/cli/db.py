"""``duanxin db``: the database schema."""

from __future__ import annotations

import typer

from duanxin.cli.common import DatabaseOption, _fail, _settings, console

__all__ = ["db_app"]

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(database_url: DatabaseOption = None) -> None:
    """Run the schema migrations up to the newest (run once per upgrade, before serving)."""
    from sqlalchemy.exc import SQLAlchemyError

    from duanxin.store.engine import current_revision, migrate

    settings = _settings(database_url)
    try:
        migrate(settings.database_url, settings.encryption_key)
        revision = current_revision(settings.database_url)
    except (SQLAlchemyError, OSError) as error:
        raise _fail(f"cannot upgrade {settings.database_url}: {error}".splitlines()[0]) from None
    console.print(f"database at revision {revision}: {settings.database_url}", highlight=False)
