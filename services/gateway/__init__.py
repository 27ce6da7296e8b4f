import warnings

# authlib 1.9 announces that its httpx client will move to the `httpx2` package; until it does,
# the httpx client is the supported one, and the notice only clutters every start (docs/channels.md,
# docs/identity.md).
# Importing authlib.deprecate first installs authlib's own "always" filter, which ours must follow.
import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

warnings.filterwarnings("ignore", message="The httpx module is deprecated")
