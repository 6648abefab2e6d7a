package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

func TestGreeting(t *testing.T) {
	srv := httptest.NewServer(newHandler("1.2.3"))
	defer srv.Close()
	for _, c := range []struct{ query, want string }{
		{"", "hello, world"},
		{"?name=worker", "hello, worker"},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/v1/greeting" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var g greeting
			if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
				t.Fatal(err)
			}
			want := greeting{Greeting: c.want, Version: "1.2.3", Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if g != want {
				t.Errorf("got %+v, want %+v", g, want)
			}
		})
	}
}
