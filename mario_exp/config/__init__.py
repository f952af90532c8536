"""What a run is asked to do: the typed schema of every key (default, range, one-line doc), the
reference rendered from it, and the preflight that composes and checks every job of a command
line before any starts."""
from pathlib import Path

# The checkout: mario_exp/ and conf/ sit side by side in it. `pip install -e .` (make setup)
# installs the package from here, so the commands find conf/ from any folder.
CHECKOUT = Path(__file__).resolve().parents[2]
CONF_DIR = CHECKOUT / "conf"
