package stacks_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// Reading a synthesized template (its JSON as maps and slices). Each helper reports a template
// of another shape as a test failure naming the path, where a chain of type assertions would
// panic and end every test at once.

// lookup follows path (object keys and array indexes) from v and returns what it finds as a T,
// or an error naming where the template has another shape.
func lookup[T any](v any, path ...any) (T, error) {
	var zero T
	for i, step := range path {
		switch step := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return zero, fmt.Errorf("%s: want an object, got %T", pathString(path[:i]), v)
			}
			if v, ok = m[step]; !ok {
				return zero, fmt.Errorf("%s: missing", pathString(path[:i+1]))
			}
		case int:
			list, ok := v.([]any)
			if !ok {
				return zero, fmt.Errorf("%s: want an array, got %T", pathString(path[:i]), v)
			}
			if step < 0 || step >= len(list) {
				return zero, fmt.Errorf("%s: the array has %d items", pathString(path[:i+1]), len(list))
			}
			v = list[step]
		default:
			panic(fmt.Sprintf("path step %v: want a key or an index", step))
		}
	}
	got, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("%s: want %T, got %T %s", pathString(path), zero, v, jsonOf(v))
	}
	return got, nil
}

// at is lookup for what must be there: a template of another shape fails the test.
func at[T any](t *testing.T, v any, path ...any) T {
	t.Helper()
	got, err := lookup[T](v, path...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func pathString(path []any) string {
	var b strings.Builder
	b.WriteString("$")
	for _, step := range path {
		if i, ok := step.(int); ok {
			b.WriteString("[" + strconv.Itoa(i) + "]")
		} else {
			b.WriteString("." + fmt.Sprint(step))
		}
	}
	return b.String()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// resources returns the resources of one type, by logical id.
func resources(t *testing.T, tmpl map[string]any, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range at[map[string]any](t, tmpl, "Resources") {
		res := at[map[string]any](t, r)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// properties returns a resource's properties.
func properties(t *testing.T, resource map[string]any) map[string]any {
	t.Helper()
	return at[map[string]any](t, resource, "Properties")
}

// only returns the properties of the one resource of a type.
func only(t *testing.T, tmpl map[string]any, typ string) map[string]any {
	t.Helper()
	rs := resources(t, tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, got %d", typ, len(rs))
	}
	for _, r := range rs {
		return properties(t, r)
	}
	return nil
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// transferEnvironment reads the transfer function's synthesized environment the way the
// function reads its own (transferlambda.ConfigFromEnv), so a test asserts what the function
// will do with it. A value CloudFormation resolves at deploy ({"Ref": ...}) stands as its JSON.
// The environment must be valid, and exactly what its Config writes: no variable left out
// (not even one with a default), none the function does not read.
func transferEnvironment(t *testing.T, tmpl map[string]any) (transferlambda.Config, map[string]string) {
	t.Helper()
	env := map[string]string{}
	for name, v := range at[map[string]any](t, transferFunction(t, tmpl), "Environment", "Variables") {
		if s, ok := v.(string); ok {
			env[name] = s
		} else {
			env[name] = jsonOf(v)
		}
	}
	cfg, err := transferlambda.ConfigFromEnv(func(name string) string { return env[name] })
	if err != nil {
		t.Fatalf("the transfer function would fail its init: %v", err)
	}
	if written := cfg.Environ(); !maps.Equal(written, env) {
		t.Errorf("transfer environment %v\nis not what its configuration writes: %v", env, written)
	}
	return cfg, env
}
