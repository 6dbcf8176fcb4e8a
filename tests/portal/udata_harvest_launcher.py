"""The udata peer with its DCAT harvester on, run in udata's own virtualenv (see `tests/peers/udata_launcher.py`).

On top of the peer's seed: data.gouv.fr's licence list (ids, titles and the URLs its live list gives,
`/api/1/datasets/licenses/`), a sysadmin who validates harvest sources, and the settings the DCAT
backend needs on a test machine (`HARVESTER_BACKENDS`, `URLS_ALLOW_LOCAL`, manual runs). Prints the
peer's JSON line plus `admin_key`, then serves on 127.0.0.1 only.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))

import udata_launcher

#: data.gouv.fr's licences: id → (title, URL or None).
PLATFORM_LICENSES = {
    "lov2": ("Licence Ouverte / Open Licence version 2.0", "https://www.etalab.gouv.fr/licence-ouverte-open-licence"),
    "fr-lo": ("Licence Ouverte / Open Licence", "https://www.etalab.gouv.fr/wp-content/uploads/2014/05/Licence_Ouverte.pdf"),
    "odc-odbl": ("Open Data Commons Open Database License (ODbL)", "http://opendatacommons.org/licenses/odbl/summary/"),
    "odc-by": ("Open Data Commons Attribution License", "http://opendatacommons.org/licenses/by/summary/"),
    "odc-pddl": ("Open Data Commons Public Domain Dedication and Licence (PDDL)",
                 "http://opendatacommons.org/licenses/pddl/summary/"),
    "cc-by": ("Creative Commons Attribution", "http://opendefinition.org/licenses/cc-by/"),
    "cc-by-sa": ("Creative Commons Attribution Share-Alike", "http://www.opendefinition.org/licenses/cc-by-sa"),
    "cc-zero": ("Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero"),
    "other-at": ("Other (Attribution)", None),
    "other-open": ("Other (Open)", None),
    "other-pd": ("Other (Public Domain)", None),
    "notspecified": ("License Not Specified", None),
}


class HarvestSettings(udata_launcher.PeerSettings):
    """The peer's settings with the DCAT harvester usable against a portal on 127.0.0.1."""

    HARVESTER_BACKENDS = ["dcat"]  # noqa: RUF012 (a udata setting)
    URLS_ALLOW_LOCAL = True
    HARVEST_ENABLE_MANUAL_RUN = True


def seed_platform():
    """Replace the peer's four licences by the platform's list; add a sysadmin; return its key."""
    from udata.core.api_token.models import ApiToken
    from udata.core.dataset.models import License
    from udata.core.user.models import Role

    License.objects.delete()
    for license_id, (title, url) in PLATFORM_LICENSES.items():
        License(id=license_id, title=title, url=url, active=True).save()
    admin = udata_launcher._user("sysadmin@moisson.test")
    admin.roles = [Role.objects(name="admin").first() or Role(name="admin").save()]
    admin.save()
    _, admin_key = ApiToken.generate(admin, name="validates harvest sources")
    return {"admin_key": admin_key}


if __name__ == "__main__":
    udata_launcher.main(HarvestSettings, seed_platform)
