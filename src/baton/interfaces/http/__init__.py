"""The HTTP door: ``baton serve`` (:mod:`.server`), the remote Board that talks to it
(:mod:`.client`), and what both agree on — the error table (:mod:`.problems`) and the
request bodies (:mod:`.wire`). The door translates; every rule is the Board's."""
