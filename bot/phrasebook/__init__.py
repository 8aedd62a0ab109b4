"""The cover: a Korean-Russian phrasebook, as data, pure (no Telegram, no I/O but its loader).

``model`` holds the structure (topics, sections, phrases), the rules a phrasebook must keep
(:func:`bot.phrasebook.model.phrasebook_issues`), search, and the normalising of typed words and
entry codes. ``loader`` reads ``flows/phrasebook.yaml`` and ``locales/<lang>/phrasebook.yaml``
with the questionnaire's strict YAML reader and reports problems as ``file:line: id: problem``.
"""
