package git

// Reference names what to check out. Flux's precedence applies: Commit,
// then Name, Tag, SemVer and Branch; an empty Reference means the branch
// master. Branch also narrows the clone of a Commit.
type Reference struct {
	Branch string
	Tag    string
	SemVer string
	Name   string
	Commit string
}

// Request is one fetch: where, what, and with which credentials.
type Request struct {
	URL       string
	Reference Reference
	// Auth is a Secret's data, keyed as Flux names it: username and
	// password, bearerToken, ca.crt, tls.crt and tls.key for HTTP(S);
	// identity, known_hosts and password for SSH.
	Auth map[string][]byte
	// ProxyURL is an HTTP(S) proxy, with its credentials in the URL.
	ProxyURL string
	// RecurseSubmodules checks submodules out too.
	RecurseSubmodules bool
	// SparseCheckout limits the checkout to these directories.
	SparseCheckout []string
}

// Checkout is the result of Client.Checkout.
type Checkout struct {
	// Revision is in Flux's format, e.g. main@sha1:<hex>.
	Revision string
	// Commit is the checked out commit.
	Commit SignedObject
	// Tag is the tag object the reference resolved through (a tag, a
	// semver range or a refs/tags/ name); nil for other references. A
	// lightweight tag has a Name but no Hash and no Signature.
	Tag *SignedObject
}

// SignedObject is a git commit or annotated tag with its detached
// signature, as git stores it, and the exact bytes it signs.
type SignedObject struct {
	// Hash is the object's SHA-1 in hex; empty for a lightweight tag.
	Hash string
	// Name is the tag name; empty for commits.
	Name string
	// Signature is the armored OpenPGP or SSH signature; empty if unsigned.
	Signature string
	// Payload is the object encoded without its signature.
	Payload []byte
}

// String names the object as source-controller does in its messages: the
// hash of a commit, name@hash of an annotated tag, the name of a
// lightweight one.
func (o SignedObject) String() string {
	switch {
	case o.Name == "":
		return o.Hash
	case o.Hash == "":
		return o.Name
	}
	return o.Name + "@" + o.Hash
}
