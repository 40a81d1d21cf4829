# A stand-in for what NixOS does with a module's users.users and
# users.groups, for a machine that cannot fetch nixpkgs (used by
# builtin_users_test.go). It is a double of two things only:
#
# - The users and groups NixOS defines itself on every host, with the
#   definitions that are not mkDefault: nixos/modules/config/users-groups.nix
#   (root, nobody and the groups below, ids from nixos/modules/misc/ids.nix)
#   and nixos/modules/services/system/nix-daemon.nix (nixbld1…nixbld32,
#   uid 30000+N, group nixbld; 32 is nix.nrBuildUsers' least default).
#   clock's gid is left out: the ids.nix bakc read has none for it.
# - How the module system merges a second definition of one of their
#   options: uid and gid are nullOr int, group and description str or
#   passwdEntry str, all merged by lib.mergeEqualOption, which throws
#   "The option `…' has conflicting definition values" for two different
#   values; and then the assertion "UIDs and GIDs must be unique!"
#   (users.enforceIdUniqueness, true by default).
#
# It takes the module's value (what backup.nix evaluates to) and returns
# the merged users and groups, or throws as NixOS would.
module:
let
  nixbld = builtins.listToAttrs (
    builtins.genList (i: {
      name = "nixbld${toString (i + 1)}";
      value = {
        uid = 30001 + i;
        group = "nixbld";
        description = "Nix build user ${toString (i + 1)}";
        isSystemUser = true;
      };
    }) 32
  );
  nixos = {
    users = {
      root = {
        uid = 0;
        description = "System administrator";
        group = "root";
      };
      nobody = {
        uid = 65534;
        isSystemUser = true;
        description = "Unprivileged account (don't use!)";
        group = "nogroup";
      };
    }
    // nixbld;
    groups = builtins.mapAttrs (_: gid: { inherit gid; }) {
      root = 0;
      wheel = 1;
      kmem = 2;
      tty = 3;
      disk = 6;
      audio = 17;
      floppy = 18;
      uucp = 19;
      lp = 20;
      cdrom = 24;
      tape = 25;
      video = 26;
      dialout = 27;
      utmp = 29;
      adm = 55;
      users = 100;
      input = 174;
      kvm = 302;
      render = 303;
      sgx = 304;
      shadow = 318;
      nixbld = 30000;
      nogroup = 65534;
    };
  };

  mergeOne =
    kind: name: a: b:
    a
    // builtins.mapAttrs (
      attr: value:
      if a ? ${attr} && a.${attr} != value then
        throw "The option `users.${kind}.${name}.${attr}' has conflicting definition values: ${builtins.toJSON a.${attr}} (NixOS) and ${builtins.toJSON value} (backup.nix)"
      else
        value
    ) b;

  merge =
    kind:
    let
      ours = nixos.${kind};
      theirs = module.users.${kind} or { };
    in
    ours // builtins.mapAttrs (name: def: if ours ? ${name} then mergeOne kind name ours.${name} def else def) theirs;

  users = merge "users";
  groups = merge "groups";

  ids =
    attr: set:
    builtins.filter (id: id != null) (map (n: set.${n}.${attr} or null) (builtins.attrNames set));
  unique = l: builtins.length l == builtins.length (builtins.attrNames (builtins.listToAttrs (map (id: { name = toString id; value = true; }) l)));
in
if !(unique (ids "uid" users) && unique (ids "gid" groups)) then
  throw "Failed assertions:\n- UIDs and GIDs must be unique!"
else
  { inherit users groups; }
