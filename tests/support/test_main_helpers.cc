// Shared pieces of the test support library live in support/*.cc and reference/*.cc.
