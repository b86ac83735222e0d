"""app/serve.py: what a server imports before it freezes what lasts, and the second freeze once its network answers.

Each in a fresh Python process: a freeze is for the life of a process (tests/fresh_python.py).
"""

import json
import textwrap

from tests.fresh_python import run_python


def test_every_module_a_server_imports_before_its_freeze_is_there_to_import():
    # A name Streamlit moves would only be imported later again, its objects back in every full collection's way:
    # say so here rather than in a slower class.
    code = textwrap.dedent("""
        import json
        from app import serve
        missing = serve.import_what_lasts(converter=True)
        print(json.dumps({"missing": missing, "openvino": serve.converts_to_openvino()}))
    """)
    result = json.loads(run_python(code, env={"RESNET_ENGINE": "auto"}))
    assert result == {"missing": [], "openvino": True}


def test_a_lecture_halls_page_imports_what_it_serves_with_and_still_no_tensorflow():
    code = textwrap.dedent("""
        import json, sys
        from app import serve
        missing = serve.import_what_lasts(converter=serve.converts_to_openvino())
        print(json.dumps({"missing": missing, "loaded": sorted(m for m in ("tensorflow", "keras", "openvino")
                                                                if m in sys.modules)}))
    """)
    result = json.loads(run_python(code, env={"RESNET_SERVE_URL": "http://127.0.0.1:9"}))
    assert result == {"missing": [], "loaded": []}


def test_the_network_is_frozen_too_once_it_answers_when_no_visitor_came_before():
    # RESNET_ENGINE=tf: the engine built first is the one that answers, so `switched` is set as soon as it is built.
    code = textwrap.dedent("""
        import gc, json
        from app import serve, sessions
        sessions.freeze_what_lasts()
        at_start = gc.get_freeze_count()
        serve.warm()  # no Streamlit server in this process: nobody can have come
        print(json.dumps({"at_start": at_start, "after_warm": gc.get_freeze_count()}))
    """)
    result = json.loads(run_python(code, env={"RESNET_ENGINE": "tf"}, timeout=300))
    # ResNet-50's layers, variables and traced forward pass: tens of thousands of objects a full collection would walk.
    assert result["after_warm"] - result["at_start"] > 10_000
