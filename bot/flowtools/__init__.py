"""Tools maintainers use on flows beside the check: comparing two versions (``diff``) and
XLSForm in and out (``xlsform``). They read and write files, so they live outside the pure
``bot.questionnaire`` and are used by ``reportbot flows`` (``bot.cli.flows``)."""
