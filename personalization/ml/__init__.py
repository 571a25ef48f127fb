"""Machine learning for personalization, without Django.

Recommenders share one contract (:mod:`.base`): :mod:`.toppop`, :mod:`.repeat`, :mod:`.itemknn`,
:mod:`.ease`, :mod:`.ials`, :mod:`.content`, :mod:`.copurchase`, :mod:`.vae` and the served
:mod:`.hybrid`; :mod:`.evaluation` is the offline protocol. Customer profiles live in :mod:`.rfm`,
:mod:`.clv` and :mod:`.segmentation`.
"""
