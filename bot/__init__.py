"""The bot: settings, service wiring, the web app and the command line."""
