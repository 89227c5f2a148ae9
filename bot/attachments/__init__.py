"""Images in a conversation: a customer's photo of a defect, a picture an agent sends back.

`images.py` says what a file is from its own bytes (never its name or declared type) and
refuses anything but a whole JPEG, PNG, GIF or WebP image; `metadata.py` removes what a
picture says besides its pixels (GPS position, camera, owner); `store.py` keeps the accepted
ones so, in the SQL database every worker shares, within a quota per conversation, and forgets
them with it.
"""
