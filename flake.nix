{
  description = "bakc: a fleet's backup intent in HCL, compiled into NixOS modules, systemd units, NAS plans and runbooks, and the runtime those units start";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];

      # The version is in the source (nix/version.txt); a build from git
      # adds the commit.
      baseVersion = builtins.replaceStrings [ "\n" ] [ "" ] (builtins.readFile ./nix/version.txt);
      version = baseVersion + "+" + (self.shortRev or self.dirtyShortRev or "unknown");

      forAllSystems =
        f:
        nixpkgs.lib.genAttrs systems (
          system:
          f (
            import nixpkgs {
              inherit system;
              overlays = [ self.overlays.default ];
            }
          )
        );
    in
    {
      # pkgs.bakc, which every generated backup.nix uses. go.mod needs Go
      # 1.26; nixpkgs' default Go is used once it is that new.
      overlays.default = final: prev: {
        bakc = final.callPackage ./nix/package.nix {
          inherit version;
          buildGoModule = final.buildGo126Module or final.buildGoModule;
        };
      };

      packages = forAllSystems (pkgs: {
        default = pkgs.bakc;
        bakc = pkgs.bakc;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${pkgs.bakc}/bin/bakc";
          meta.description = "bakc: compile a fleet's backup configuration, or run a backup";
        };
      });

      # Import it with a host's generated backup.nix:
      #   imports = [ bakc.nixosModules.default ./backup.nix ];
      nixosModules.default = import ./nix/module.nix { overlay = self.overlays.default; };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.go
            pkgs.gopls
            pkgs.restic
            pkgs.nix
            pkgs.nixfmt-rfc-style
          ]
          ++ nixpkgs.lib.optionals pkgs.stdenv.isLinux [
            pkgs.systemd
            pkgs.zfs
          ];
        };
      });

      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit pkgs self;
          inherit (pkgs) bakc;
        }
        // nixpkgs.lib.optionalAttrs pkgs.stdenv.isLinux {
          nixos-backup-restore = import ./nix/tests/backup-restore.nix { inherit pkgs self; };
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
