"""Messaging channels: LINE, Facebook Messenger (and the web widget, kefu's own), each turning
what arrives into customer messages for the one conversation service, and sending what kefu
says back in the platform's own form."""
