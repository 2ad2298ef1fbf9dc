// The peer of the cold-start benchmark: a bare node process that loads one ES module and exits.
