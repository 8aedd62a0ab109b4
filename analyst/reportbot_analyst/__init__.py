"""The analysts' side: private keys, opening envelopes, the toolkit behind ``reportbot analyst``.

Nothing in the bot's runtime (``bot`` modules other than this package and the CLI, ``handlers``,
``storage``) may import this package: the server never holds a key that opens anything.
``tests/test_no_decrypt_path.py`` holds that.
"""
