"""Theme commands: list the theme's files by layer, eject packaged files to edit them."""

from __future__ import annotations

import click

from briefing.cli.app import State, cli
from briefing.errors import relative


@cli.group("theme")
def theme_group() -> None:
    """The theme: your templates/ in front of the theme packaged with briefing.

    A file in templates/ replaces the packaged file of the same name; every other
    file comes from the package, so theme fixes in new releases still reach you.

    \b
    Example:
      briefing theme list
      briefing theme eject email.css    # then edit templates/email.css
    """


@theme_group.command("list")
@click.pass_obj
def list_command(state: State) -> None:
    """Show each theme file and the layer it comes from (yours or the package's).

    A file of yours identical to the packaged one is marked: deleting it changes
    nothing today and lets later theme fixes reach you.

    \b
    Example:
      briefing theme list
    """
    from briefing.config import load_config
    from briefing.render.theme import PACKAGED_LABEL, Theme

    config = load_config(state.root)
    theme = Theme.load(config)
    folder = relative(config.templates_dir, config.root)
    files = theme.files()
    width = max(len(name) for name, _ in files)
    for name, layer in files:
        if layer.name == "packaged":
            where = f"{PACKAGED_LABEL}/ (packaged)"
        elif theme.same_as_packaged(name):
            # Typical of a publication made before layers: delete it to get theme fixes.
            where = f"{folder}/ (same as packaged: can be deleted)"
        else:
            where = f"{folder}/"
        click.echo(f"{name:<{width}}  {where}")


@theme_group.command("eject")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--force", is_flag=True, help="Replace files already in templates/.")
@click.pass_obj
def eject_command(state: State, files: tuple[str, ...], force: bool) -> None:
    """Copy packaged theme FILEs (all when none given) into templates/ to edit them.

    Never overwrites a file of yours unless --force. `briefing theme list` names
    the files.

    \b
    Example:
      briefing theme eject email.css web/style.css
      briefing theme eject              # the whole theme
    """
    from briefing.config import load_config
    from briefing.render.theme import eject

    config = load_config(state.root)
    for path in eject(config, files, force):
        click.echo(relative(path, config.root))
