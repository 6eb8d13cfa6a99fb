"""The MILP: shared model core, the battery, one builder per appliance type, the site."""
