"""Serve pycsw on 127.0.0.1 and a free port; print the port, then serve (run with the pycsw venv's python).

The config named by PYCSW_CONFIG gets its advertised URLs rewritten to the real port first,
because GetCapabilities advertises `[server] url` and clients follow it.
"""

import os
import re
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # one line per request would drown the test output
        pass


def main() -> None:
    from pycsw.wsgi import application

    server = make_server("127.0.0.1", 0, application, handler_class=_Quiet)
    port = server.server_port
    path = os.environ["PYCSW_CONFIG"]
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = re.sub(r"^(url|provider_url|contact_url)=.*$", rf"\1=http://127.0.0.1:{port}/", text, flags=re.M)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(port, flush=True)
    with open(os.devnull, "w") as sink:  # pycsw prints each path; the pipe to the test is not read any more
        sys.stdout = sink
        server.serve_forever()


if __name__ == "__main__":
    main()
