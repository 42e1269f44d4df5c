# The Flask app as `archivy run` serves it: the app plus the click-web pages the `run`
# command adds (archivy/cli.py).
import click
from archivy import app as _app
from archivy.cli import cli
from archivy.click_web import create_click_web_app

app = create_click_web_app(click, cli, _app)
