"""Images in a conversation: a customer's photo of a defect, a picture an agent sends back.

`images.py` says what a file is from its own bytes (never its name or declared type) and
refuses anything but a whole JPEG, PNG, GIF or WebP image; `store.py` keeps the accepted ones
under the data directory, one folder per conversation, and forgets them with it.
"""
