"""Reading an APK or a split bundle.

``load_apk`` turns a path or a URL (read by :mod:`~appaudit.apk.source`) into
:class:`ApkFacts`: identity, manifest facts and a code index over every DEX
file it can reach, plus what could not be read.

Inputs: a plain ``.apk``; a split bundle (``.apks`` from bundletool, ``.xapk``,
``.apkm``: a zip of APKs; :mod:`~appaudit.apk.bundle`) whose base APK's manifest
is the app's and whose splits' DEX files are analysed with the base's; and DEX,
JAR, ZIP or APK payloads nested in any of them (``assets/``, ``res/raw/``, renamed
files), recognised by their magic number, analysed too and named by where they
came from (``assets/payload.jar!classes.dex``), and payloads a packer hid encoded
or encrypted (``assets/Ygg.json[rc4]``; :mod:`~appaudit.apk.payloads`,
:mod:`~appaudit.apk.recover`; RC4 by :mod:`~appaudit.apk.rc4`, which takes
``cryptography``'s ARC4, installed with androguard, when it can be imported, and
imports it only when an RC4 key search runs). Zip tricks are reported by
:mod:`~appaudit.apk.anomalies`. Every read is bounded by
:class:`~appaudit.apk.limits.Limits` and nothing is written to disk.

androguard: this package is the only one of appaudit that imports it, and only
lazily: :mod:`~appaudit.apk.manifest` imports ``androguard.core.axml.AXMLPrinter``
inside ``parse_manifest`` when the own binary-XML reader (:mod:`~appaudit.apk.axml`)
refuses a manifest or finds it irregular, so a scan of a well-formed APK never
loads androguard (a test checks ``sys.modules``). The app's label and the string
resources the analysis asks for (:mod:`~appaudit.apk.resources`, a
``getString(int)`` with a constant id) are resolved by :mod:`~appaudit.apk.arsc`,
DEX files are read by our own reader (:mod:`~appaudit.apk.dex`), signer
certificates by :mod:`~appaudit.apk.signing` and zips by
:mod:`~appaudit.apk.container`, none of them through androguard.
"""

from __future__ import annotations

from appaudit.apk.limits import Limits
from appaudit.apk.loader import ApkFacts, load_apk

__all__ = ["ApkFacts", "Limits", "load_apk"]
