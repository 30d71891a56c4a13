/* Golden kernels: the generated source of a few stacks (tests/golden/
 * cases.txt) must equal the committed files byte for byte, so that every
 * change to the generated code is seen in review. After an intended
 * change, run tools/regen-golden and review the diff. */
#include "testutil.h"

#include "generate.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void first_difference(const char *a, const char *b, const char *name)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    print_error("%s differs from the generator at line %d:\n"
                "  golden:    %.120s\n  generated: %.120s\n"
                "run tools/regen-golden after an intended change\n",
                name, line, la, lb);
}

static void generated_kernels_should_match_the_golden_files(void **state)
{
    (void)state;
    const char *dir = getenv("CUBIE_GOLDEN");
    char path[1024], line[1024];
    snprintf(path, sizeof(path), "%s/cases.txt", dir ? dir : "tests/golden");
    FILE *cases = fopen(path, "r");
    assert_non_null(cases);
    int n = 0;
    while (fgets(line, sizeof(line), cases) != NULL) {
        char *name = strtok(line, " \n");
        char *spec = strtok(NULL, " \n");
        if (name == NULL || spec == NULL) {
            continue;
        }
        cubie_error err = {0};
        cubie_system *sys = NULL;
        char sp[512];
        tu_ok(cubie_system_load(tu_spec_path(spec, sp, sizeof(sp)), &sys,
                                &err), &err);
        cubie_options *o = NULL;
        assert_int_equal(cubie_options_new(&o), CUBIE_OK);
        for (char *kv = strtok(NULL, " \n"); kv; kv = strtok(NULL, " \n")) {
            tu_ok(cubie_options_set_pair(o, kv, &err), &err);
        }
        char *src = NULL;
        tu_ok(cubie_generate(sys, o, &src, &err), &err);
        snprintf(path, sizeof(path), "%s/%s.cu", dir ? dir : "tests/golden",
                 name);
        char *golden = slurp(path);
        assert_non_null(golden);
        if (strcmp(golden, src) != 0) {
            first_difference(golden, src, path);
        }
        assert_string_equal(golden, src);
        free(golden);
        free(src);
        cubie_options_free(o);
        cubie_system_free(sys);
        n++;
    }
    fclose(cases);
    assert_true(n >= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_kernels_should_match_the_golden_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
