"""`make run`'s entry point: Streamlit serving app/main.py, with the classifier built as the server starts.

`streamlit run` runs app/main.py only when a visitor comes, so the first visitor would wait for TensorFlow to import
and ResNet-50 to be built and warmed (about 10 s on two cores). Started here, TensorFlow is imported before the server
(its objects are then frozen out of the cycle collector: app/sessions.py), and the network is built while the server
comes up.
The upload quotas (app/upload_gate.py) go into Streamlit's server here too, before it is made.
Arguments are `streamlit run`'s options: `python app/serve.py --server.port 8501`.
"""

import importlib
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # as app/main.py does, so both import the same `app.classifier` (and its cache)

# What a serving process imports only once it serves: Streamlit's web server (imported when it starts), the Predict
# page's rooms, and the converter the classifier uses. Imported after the freeze, as they were, ~49,000 of their
# objects stayed in the cycle collector's way, and every full collection walked them (tests/load/README.md). A name
# missing here (Streamlit moved it, or an optional speed-up is not installed) is only imported later, as before:
# tests/test_app_serve.py checks that each one imports.
SERVING_MODULES = (
    "streamlit.web.server.starlette.starlette_app", "streamlit.web.server.starlette.starlette_agent_routes",
    "streamlit.runtime.agent.mcp", "streamlit.runtime.scriptrunner.magic_funcs",
    "starlette.applications", "starlette.routing", "starlette.staticfiles", "starlette.websockets",
    "starlette.middleware.sessions", "uvicorn.main", "uvicorn.lifespan.on", "uvicorn.middleware.proxy_headers",
    "uvicorn.protocols.http.httptools_impl", "uvicorn.protocols.websockets.websockets_sansio_impl", "uvloop",
    "websockets.server", "watchfiles",
    "app.photo_cache", "app.panels.explanations", "app.panels.lesion", "app.panels.receptive", "app.panels.shortcuts",
)
CONVERTER_MODULES = ("openvino.tools.ovc", "openvino.frontend.tensorflow")
ARCH = "resnet50"  # the network the Predict page opens with, built as the server starts


def import_what_lasts(*, converter: bool) -> list[str]:
    """Import SERVING_MODULES (and OpenVINO's converter, where the classifier will convert to it) now; the names
    that could not be imported."""
    if converter:
        from resnet.devices import import_openvino  # noqa: PLC0415 -- its telemetry off before anything imports it

        import_openvino()
    missing = []
    for name in SERVING_MODULES + (CONVERTER_MODULES if converter else ()):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    from PIL import Image  # noqa: PLC0415

    Image.init()  # Pillow's format plugins, which it imports at the first photo it opens
    return missing


def converts_to_openvino() -> bool:
    """Whether this server's classifier will convert its network to OpenVINO (in-process, and RESNET_ENGINE lets
    it); a RESNET_ENGINE the classifier refuses is for the page to say, not this guess."""
    from app.classifier import thin  # noqa: PLC0415

    if thin():  # and resnet.engines would import TensorFlow
        return False
    from resnet import engines  # noqa: PLC0415
    from resnet.errors import UserError  # noqa: PLC0415

    try:
        return engines.resolve_engine(engines.default_engine()) == "openvino"
    except UserError:
        return False


def warm() -> None:
    """The network, built beside the server's start; once it answers with the engine it converts to, what it made
    is frozen too, unless a visitor came before (app/sessions.py)."""
    from app import sessions  # noqa: PLC0415
    from app.classifier import get_classifier, warm_in_background  # noqa: PLC0415

    building = warm_in_background(ARCH)
    if building is None:  # a lecture hall's page: the tier holds the networks
        return
    building.join()
    try:
        classifier = get_classifier(ARCH)  # the one just built (Streamlit's cache, keyed as the page calls it)
    except Exception:  # noqa: BLE001 -- it failed to build: the page says why to whoever comes
        return
    if classifier.switched.wait(timeout=600):
        sessions.freeze_what_lasts()


def main() -> int:
    from resnet.processes import large_blocks_straight_back  # noqa: PLC0415

    large_blocks_straight_back()  # visitors' uploads and photos: their memory goes back when they are let go
    from streamlit.web import cli  # noqa: PLC0415

    from app import sessions, upload_gate  # noqa: PLC0415
    from app.classifier import thin  # noqa: PLC0415
    from app.runtime import keep_keras_state, no_config_polling, share_uploaded_bytes  # noqa: PLC0415

    keep_keras_state()
    share_uploaded_bytes()
    no_config_polling()
    if not thin():
        # Before the server: most of the objects it keeps for life come with the classifier's library (TensorFlow
        # and Keras: 3 s of import the first page would wait for anyway), and no visitor can be here yet when they
        # are frozen.
        import resnet.inference  # noqa: F401, PLC0415
    import_what_lasts(converter=converts_to_openvino())
    sessions.freeze_what_lasts()
    upload_gate.install()  # the upload quotas, at the route and the store, before Streamlit makes either
    sessions.install()  # a closed tab's session is shut down when its time for a reconnect is up
    threading.Thread(target=warm, daemon=True, name="warm-at-start").start()
    sys.argv = ["streamlit", "run", str(ROOT / "app" / "main.py"), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
