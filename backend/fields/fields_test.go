package fields

import "testing"

func TestList(t *testing.T) {
	var none List
	if err := none.Err("x/v1 Thing"); err != nil {
		t.Errorf("no problems: Err = %v", err)
	}
	if f, m := none.First(); f != "" || m != "" {
		t.Errorf("no problems: First = %q, %q", f, m)
	}
	l := List{{Field: "spec.image", Msg: "missing"}, {Field: "metadata.name", Msg: "too long"}, {Field: "spec.ports[0]", Msg: "reserved"}}
	if got, want := l.Err("x/v1 Thing").Error(), "invalid x/v1 Thing: spec.image: missing; metadata.name: too long; spec.ports[0]: reserved"; got != want {
		t.Errorf("Err = %q, want %q", got, want)
	}
	f, m := l.First()
	if want := "missing; also metadata.name: too long; spec.ports[0]: reserved"; f != "spec.image" || m != want {
		t.Errorf("First = %q, %q; want spec.image, %q", f, m, want)
	}
	if f, m := l[:1].First(); f != "spec.image" || m != "missing" {
		t.Errorf("one problem: First = %q, %q", f, m)
	}
}
