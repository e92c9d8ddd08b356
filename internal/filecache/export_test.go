package filecache

// Waiters returns how many Acquires wait for the fill of uri, so that tests
// can make sure concurrent callers really overlap.
func (c *Cache) Waiters(uri string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.fills[keyOf(uri)]; f != nil {
		return f.waiters
	}
	return 0
}
