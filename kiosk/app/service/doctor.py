"""`kiosk doctor`: checks the machine can run the kiosk, each with what to fix.

Every check is a function returning a list of `Check(level, area, message, fix)`; `level` is
OK, WARN (works, but not as configured or not at full speed) or FAIL (the kiosk will not work).
Device and system roots are parameters so the tests can point them at fake trees.
"""

from __future__ import annotations

import ctypes
import grp
import importlib.util
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiosk.app.service.config import KioskConfig
from kiosk.app.service.modelchoice import ModelChoice, choose_model
from kiosk.core.settings import env_str
from kiosk.pose.runtime import EDGETPU_LIB

OK, WARN, FAIL = "OK", "WARN", "FAIL"

#: Coral USB accelerator: 1a6e:089a before its firmware is loaded, 18d1:9302 after.
CORAL_USB_IDS = {("1a6e", "089a"), ("18d1", "9302")}
SERVICE_USER = "mirror"


@dataclass(frozen=True)
class Check:
    level: str
    area: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:<4}  {self.area:<8}  {self.message}"
        return f"{text}\n{'':16}fix: {self.fix}" if self.fix and self.level != OK else text


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _globbed(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern)) if root.is_dir() else []


# ---- camera -----------------------------------------------------------------------------
def list_libcamera_cameras(timeout: float = 10.0) -> list[str] | None:
    """Camera lines from rpicam-hello/libcamera-hello --list-cameras (None when neither exists)."""
    for tool in ("rpicam-hello", "libcamera-hello"):
        exe = shutil.which(tool)
        if exe is None:
            continue
        try:
            out = subprocess.run([exe, "--list-cameras"], capture_output=True, text=True,
                                 timeout=timeout, check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [line.strip() for line in out.splitlines() if line.strip()[:2].rstrip(":").isdigit()]
    return None


def check_camera(config: KioskConfig, dev: Path = Path("/dev"),
                 libcamera: list[str] | bool | None = False) -> list[Check]:
    """The configured source can work; `libcamera` is the camera list (False: ask the tools)."""
    source = config.camera.source
    checks = []
    videos = _globbed(dev, "video*")
    if source.startswith("replay:"):
        path = Path(source.split(":", 1)[1]).expanduser()
        if path.exists():
            checks.append(Check(OK, "camera", f"replay source {path} exists"))
        else:
            checks.append(Check(FAIL, "camera", f"replay source {path} does not exist",
                                "set camera.source to an existing video file or image folder"))
    elif source.startswith("webcam:"):
        node = dev / f"video{source.split(':', 1)[1]}"
        if node.exists():
            checks.append(Check(OK, "camera", f"{node} exists"))
        else:
            found = ", ".join(p.name for p in videos) or "none"
            checks.append(Check(FAIL, "camera", f"{node} does not exist (video devices: {found})",
                                "plug the webcam in, or set camera.source to webcam:N of an existing one"))
        if not _importable("cv2"):
            checks.append(Check(FAIL, "camera", "OpenCV (cv2) is not importable for webcam sources",
                                "pip install 'move-mirror-kiosk[webcam]' or apt install python3-opencv"))
    else:  # picamera2
        if _importable("picamera2"):
            checks.append(Check(OK, "camera", "picamera2 is importable"))
        else:
            checks.append(Check(FAIL, "camera", "picamera2 is not importable",
                                "apt install python3-picamera2 and use a venv made with "
                                "--system-site-packages (scripts/install.sh does both)"))
        cams = list_libcamera_cameras() if libcamera is False else libcamera
        if cams is None:
            checks.append(Check(WARN, "camera", "rpicam-hello/libcamera-hello not found: cannot list cameras",
                                "apt install rpicam-apps (or libcamera-apps)"))
        elif cams:
            checks.append(Check(OK, "camera", f"libcamera sees {len(cams)} camera(s): {cams[0]}"))
        else:
            checks.append(Check(FAIL, "camera", "libcamera lists no camera",
                                "check the ribbon cable (contacts facing the right way) and "
                                "camera_auto_detect=1 in /boot/firmware/config.txt, then reboot"))
    if not videos and not source.startswith("replay:"):
        checks.append(Check(WARN, "camera", f"no {dev}/video* device nodes",
                            "no camera driver is loaded; check the camera connection"))
    return checks


# ---- models -----------------------------------------------------------------------------
def check_models(config: KioskConfig, models_dir: Path | None = None) -> list[Check]:
    """The files of the model the kiosk will run exist with the manifest's checksums."""
    from kiosk.assets.fetch import verified_model_file
    from kiosk.assets.manifest import ManifestError, load_manifest

    name = model_choice(config).name
    if name.endswith(".tflite"):
        path = Path(name).expanduser()
        if path.is_file():
            return [Check(OK, "model", f"{path} exists (a path: no checksum to compare)")]
        return [Check(FAIL, "model", f"model file {path} does not exist", "fix model.name")]
    try:
        variants = load_manifest().variants(name)
    except ManifestError as exc:
        return [Check(FAIL, "model", str(exc), "set model.name to a model in models/manifest.yaml")]
    checks = []
    for variant, entry in sorted(variants.items()):
        needed = variant == "cpu" or config.model.delegate == "edgetpu"
        try:
            path, sha = verified_model_file(entry, models_dir)
            checks.append(Check(OK, "model", f"{name} ({variant}): {path.name} sha256 {sha[:12]}… OK"))
        except Exception as exc:
            fix = f"kiosk models fetch {name}  (with KIOSK_MODELS_DIR set as the service has it)"
            checks.append(Check(FAIL if needed else WARN, "model", f"{name} ({variant}): {exc}", fix))
    return checks


# ---- delegate ---------------------------------------------------------------------------
def _index_model(config: KioskConfig) -> str | None:
    """The model the configured index was built with (None: no readable index; check_index says
    what is wrong with it)."""
    import json

    from kiosk.gallery.manifest import MANIFEST

    try:
        manifest = json.loads((config.index_path().resolve() / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = (manifest.get("model") or {}).get("name") if isinstance(manifest, dict) else None
    return str(name) if name else None


def model_choice(config: KioskConfig) -> ModelChoice:
    """The model `kiosk run` will load for this configuration and its index."""
    return choose_model(config.model.name, _index_model(config))


def check_model_fits_index(config: KioskConfig) -> list[Check]:
    """The visitor's model is the archive's (or a compatible one)."""
    choice = model_choice(config)
    if choice.index_model is None:
        return []
    if choice.mismatch:
        return [Check(WARN, "model", f"the kiosk runs {choice.name}, the index was built with "
                      f"{choice.index_model}", choice.mismatch)]
    how = "model.name is empty" if not config.model.name else "compatible"
    return [Check(OK, "model", f"runs {choice.name}; the index was built with {choice.index_model} ({how})")]


def coral_devices(dev: Path = Path("/dev"), sys_usb: Path = Path("/sys/bus/usb/devices")) -> list[str]:
    found = [str(p) for p in _globbed(dev, "apex_*")]
    for device in _globbed(sys_usb, "*"):
        try:
            ids = ((device / "idVendor").read_text().strip(), (device / "idProduct").read_text().strip())
        except OSError:
            continue
        if ids in CORAL_USB_IDS:
            found.append(f"USB {ids[0]}:{ids[1]} ({device.name})")
    return found


def edgetpu_library_loadable() -> tuple[bool, str]:
    lib = env_str("KIOSK_EDGETPU_LIB") or EDGETPU_LIB
    try:
        ctypes.CDLL(lib)
    except OSError as exc:
        return False, f"{lib}: {exc}"
    return True, lib


def check_delegate(config: KioskConfig, dev: Path = Path("/dev"),
                   sys_usb: Path = Path("/sys/bus/usb/devices")) -> list[Check]:
    from kiosk.pose.runtime import available_backends

    checks = []
    backends = available_backends()
    if backends:
        checks.append(Check(OK, "delegate", f"TFLite interpreter: {', '.join(backends)}"))
    else:
        checks.append(Check(FAIL, "delegate", "no TFLite interpreter is installed",
                            "pip install ai-edge-litert (or tflite-runtime on numpy<2 systems)"))
    wanted = config.model.delegate
    if wanted == "cpu":
        checks.append(Check(OK, "delegate", "model.delegate is cpu: the Edge TPU is not used"))
        return checks
    lib_ok, lib = edgetpu_library_loadable()
    devices = coral_devices(dev, sys_usb)
    level = FAIL if wanted == "edgetpu" else WARN
    if not lib_ok:
        checks.append(Check(level, "delegate", f"Edge TPU runtime not loadable ({lib}); "
                            + ("the kiosk falls back to the CPU" if wanted == "auto" else "required"),
                            "apt install libedgetpu1-std (Coral's apt repository)"))
    else:
        checks.append(Check(OK, "delegate", f"Edge TPU runtime {lib} loads"))
    if devices:
        checks.append(Check(OK, "delegate", f"Coral found: {', '.join(devices)}"))
    else:
        checks.append(Check(level, "delegate", "no Coral Edge TPU found (no /dev/apex_*, no Coral USB id)"
                            + ("; the kiosk runs on the CPU" if wanted == "auto" else ""),
                            "plug the Coral USB in a USB 3 port, or install the PCIe driver (gasket-dkms)"))
    return checks


# ---- index ------------------------------------------------------------------------------
def check_index(config: KioskConfig, *, deep: bool = False) -> list[Check]:
    from kiosk.gallery.reader import GalleryIndex

    path = config.index_path()
    if not path.exists():
        return [Check(FAIL, "index", f"no index at {path}",
                      "deploy one (scripts/deploy.sh) or build one (kiosk index build ... -o DIR) and "
                      "set index.path")]
    try:
        index = GalleryIndex.open(path, verify=deep)
    except Exception as exc:
        return [Check(FAIL, "index", f"{path}: {exc}", f"kiosk index verify {path}; redeploy the index")]
    what = "verified (every sha256)" if deep else "opens (use --deep to check every sha256)"
    return [Check(OK, "index", f"{index.index_id}: {len(index)} entries at {index.path} {what}")]


# ---- display ----------------------------------------------------------------------------
def check_display(env: dict[str, str] | None = None, dev: Path = Path("/dev")) -> list[Check]:
    env = dict(os.environ) if env is None else env
    checks = []
    if _importable("pygame"):
        checks.append(Check(OK, "display", "pygame is importable"))
    else:
        checks.append(Check(FAIL, "display", "pygame is not importable",
                            "pip install 'move-mirror-kiosk[display]' (or apt install python3-pygame)"))
    driver = env.get("SDL_VIDEODRIVER", "")
    cards = _globbed(dev / "dri", "card*")
    if driver == "dummy":
        checks.append(Check(WARN, "display", "SDL_VIDEODRIVER=dummy: headless, nothing is shown",
                            "unset it (the unit sets kmsdrm) unless running tests"))
    elif driver == "kmsdrm" or (not driver and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY")):
        if cards:
            checks.append(Check(OK, "display", f"kmsdrm: {', '.join(p.name for p in cards)}"))
        else:
            checks.append(Check(FAIL, "display", f"SDL_VIDEODRIVER={driver or '(unset)'} but no "
                                f"{dev}/dri/card* exists",
                                "enable the KMS driver (dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt) "
                                "and reboot"))
    else:
        checks.append(Check(OK, "display", f"SDL_VIDEODRIVER={driver or '(unset)'}, DISPLAY="
                            f"{env.get('DISPLAY', '')} WAYLAND_DISPLAY={env.get('WAYLAND_DISPLAY', '')}"))
    return checks


# ---- groups -----------------------------------------------------------------------------
def user_groups(user: str) -> set[str]:
    entry = pwd.getpwnam(user)
    names = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    try:
        names.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    return names


def check_groups(user: str | None = None, *, coral: bool = True,
                 groups_of: dict[str, set[str]] | None = None,
                 existing: set[str] | None = None) -> list[Check]:
    """The service user is in video, render, input (and plugdev for a Coral USB)."""
    if user is None:
        current = pwd.getpwuid(os.getuid()).pw_name
        user = current
        if os.getuid() == 0:
            try:
                pwd.getpwnam(SERVICE_USER)
                user = SERVICE_USER
            except KeyError:
                return [Check(WARN, "groups", f"no {SERVICE_USER!r} user (the service runs as it)",
                              "sudo scripts/install.sh")]
    try:
        have = groups_of[user] if groups_of is not None else user_groups(user)
    except KeyError:
        return [Check(FAIL, "groups", f"no user {user!r}", "sudo scripts/install.sh creates it")]
    existing = existing if existing is not None else {g.gr_name for g in grp.getgrall()}
    wanted = ["video", "render", "input"] + (["plugdev"] if coral else [])
    checks = []
    for group in wanted:
        if group not in existing:
            checks.append(Check(WARN, "groups", f"no {group!r} group on this system",
                                f"groupadd --system {group} (udev rules grant devices to it)"))
        elif group in have:
            checks.append(Check(OK, "groups", f"{user} is in {group}"))
        else:
            checks.append(Check(FAIL, "groups", f"{user} is not in {group}",
                                f"sudo usermod -aG {group} {user} (then restart the service)"))
    return checks


def run_all(config: KioskConfig, *, deep: bool = False, user: str | None = None) -> list[Check]:
    checks: list[Check] = []
    for fn in (lambda: check_camera(config), lambda: check_models(config),
               lambda: check_model_fits_index(config), lambda: check_delegate(config),
               lambda: check_index(config, deep=deep), check_display,
               lambda: check_groups(user, coral=config.model.delegate != "cpu")):
        try:
            checks.extend(fn())
        except Exception as exc:  # a broken check must not hide the others
            checks.append(Check(FAIL, "doctor", f"a check crashed: {type(exc).__name__}: {exc}",
                                "report this bug"))
    return checks
