/* Filled in once the stiff reference file lands. */
#define STIFF_TESTS
static inline void stiff_unused(void) { (void)load_references; }
