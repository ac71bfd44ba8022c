"""The tinydeploy dev-platform: emulated Cortex-M boards (QEMU) and the native host board.

Board manifests are generated from boards/*.toml into the PlatformIO home by tinydeploy.build.provision;
this class only decides which packages a build needs.
"""

from platformio.public import PlatformBase


class TinydeployPlatform(PlatformBase):
    def is_embedded(self):
        return True

    def configure_default_packages(self, variables, targets):
        # The Arm toolchain is needed by every board except the native one, which uses the host's gcc.
        board_id = variables.get("board")
        native = bool(board_id) and self.board_config(board_id).get("build.native", False)
        if "toolchain-gccarmnoneeabi" in self.packages:
            self.packages["toolchain-gccarmnoneeabi"]["optional"] = native
        return super().configure_default_packages(variables, targets)
