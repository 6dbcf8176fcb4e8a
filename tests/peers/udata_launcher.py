"""Launcher of a real udata (data.gouv.fr) API on mongomock, run in udata's own virtualenv.

Seeds a user, an organisation (the user is its admin),
four licences, a few spatial zones and an API token, prints one JSON line on stdout
(`api_key`, `org_id`, `org_slug`, `user_id`, `base_url`, `outsider_key`), then serves on
127.0.0.1 only. udata is AGPL-3.0: it is never imported by moisson, only run as a process.
"""

import json
import os
import secrets
import sys
import tempfile
from datetime import UTC, datetime

import mongomock
from udata import settings
from udata.app import create_app, standalone
from werkzeug.serving import make_server

LICENSES = {
    "lov2": ("Licence Ouverte / Open Licence version 2.0", "https://www.etalab.gouv.fr/licence-ouverte-open-licence"),
    "fr-lo": ("Licence Ouverte / Open Licence", "https://www.data.gouv.fr/fr/licences"),
    "odc-odbl": ("Open Data Commons Open Database License (ODbL)", "https://opendatacommons.org/licenses/odbl/"),
    "notspecified": ("License Not Specified", "https://www.data.gouv.fr/fr/licences"),
}
ZONES = [  # (geoid, level, code, name)
    ("country:fr", "country", "fr", "France"),
    ("fr:region:32", "fr:region", "32", "Hauts-de-France"),
    ("fr:departement:59", "fr:departement", "59", "Nord"),
    ("fr:commune:59350", "fr:commune", "59350", "Lille"),
    ("fr:commune:59017", "fr:commune", "59017", "Armentières"),
]


class PeerSettings(settings.Testing):
    """udata's test settings, reachable on 127.0.0.1 and backed by mongomock."""

    SERVER_NAME = None
    MONGODB_SETTINGS = {  # noqa: RUF012 (a udata setting, read as a plain class attribute)
        "host": "mongodb://localhost:27017/udata", "mongo_client_class": mongomock.MongoClient}
    SECRET_KEY = "moisson-peer-not-secret"
    API_TOKEN_SECRET = "moisson-peer-token-hmac"
    FS_ROOT = os.environ.get("UDATA_PEER_FS_ROOT") or tempfile.mkdtemp(prefix="udata-peer-")
    FS_SERVE = True


def _user(email):
    from udata.core.user.models import User

    return User(email=email, first_name="Moisson", last_name="Peer", active=True,
                confirmed_at=datetime.now(UTC), fs_uniquifier=secrets.token_hex(16)).save()


def seed():
    """Create the licences, zones, users, organisation and tokens; return the JSON line's values."""
    from udata.core.api_token.models import ApiToken
    from udata.core.dataset.models import License
    from udata.core.organization.models import Member, Organization
    from udata.core.spatial.models import GeoLevel, GeoZone

    for license_id, (title, url) in LICENSES.items():
        License(id=license_id, title=title, url=url, active=True).save()
    for level in sorted({z[1] for z in ZONES}):
        GeoLevel(id=level, name=level).save()
    for geoid, level, code, name in ZONES:
        GeoZone(id=geoid, slug=name.lower(), name=name, code=code, level=level).save()
    user = _user("publisher@moisson.test")
    org = Organization(name="Commune de Moisson-sur-Lys", description="Peer organisation",
                       members=[Member(user=user, role="admin")]).save()
    _, api_key = ApiToken.generate(user, name="moisson tests")
    _, outsider_key = ApiToken.generate(_user("outsider@moisson.test"), name="not a member")
    return {"api_key": api_key, "outsider_key": outsider_key, "org_id": str(org.id), "org_slug": org.slug,
            "user_id": str(user.id)}


def main(peer_settings=PeerSettings, more_seed=None):
    """Seed (plus `more_seed()`'s values, for a variant of this peer), announce, serve until killed."""
    app = standalone(create_app(settings.Defaults, override=peer_settings))
    with app.app_context():
        line = seed()
        line.update(more_seed() if more_seed else {})
    server = make_server("127.0.0.1", int(os.environ.get("UDATA_PEER_PORT", "0")), app, threaded=False)
    line["base_url"] = f"http://127.0.0.1:{server.port}"
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
