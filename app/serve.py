"""`make run`'s entry point: Streamlit serving app/main.py, with the classifier built as the server starts.

`streamlit run` runs app/main.py only when a visitor comes, so the first visitor would wait for TensorFlow to import
and ResNet-50 to be built and warmed (about 10 s on two cores). Started here, TensorFlow is imported before the server
(its objects are then frozen out of the cycle collector: app/sessions.py), and the network is built while the server
comes up.
The upload quotas (app/upload_gate.py) go into Streamlit's server here too, before it is made.
Arguments are `streamlit run`'s options: `python app/serve.py --server.port 8501`.
"""

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # as app/main.py does, so both import the same `app.classifier` (and its cache)


def warm() -> None:
    from app.classifier import warm_in_background  # noqa: PLC0415 -- the network, beside the server's start

    warm_in_background()


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
    sessions.freeze_what_lasts()
    upload_gate.install()  # the upload quotas, at the route and the store, before Streamlit makes either
    sessions.install()  # a closed tab's session is shut down when its time for a reconnect is up
    threading.Thread(target=warm, daemon=True, name="warm-at-start").start()
    sys.argv = ["streamlit", "run", str(ROOT / "app" / "main.py"), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
