# A fleet whose hooks use the attribute and the block form, for the tests
# of what a hook needs (compiler, unit files, backup.nix). The seed's
# pattern, pg_dumpall into a file, kept working by declaring its user,
# program and folder.
defaults {
  retention {
    daily = 7
  }
}
