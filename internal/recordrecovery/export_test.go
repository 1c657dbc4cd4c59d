package recordrecovery

// WholeTables returns o with the unfiltered data pass (every related table restored whole), the behaviour the
// filtered pass must reproduce exactly.
func WholeTables(o Options) Options {
	o.wholeTables = true
	return o
}
