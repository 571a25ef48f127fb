"""ShopSense pricing: price elasticities fitted on the shop's history, price suggestions passed through
guardrails, an approval workflow, an immutable price history and the EU "prior price".

``elasticities`` (fit and keep a model version), ``suggestions`` (strategies propose, guardrails decide),
``actions`` (approve, reject, apply, roll back — every write through ``write_price``), ``policies`` /
``bands`` (which guardrails apply), ``services`` / ``selectors`` / ``tasks`` (the entry points), with
``admin``, ``charts``, ``api/``, ``templatetags/`` and ``ml/`` (estimators and strategies without Django).
"""
