module github.com/dispatchlab/dispatchlab

go 1.24.0

require (
	github.com/DataDog/sketches-go v1.4.8
	github.com/dgryski/go-jump v0.0.0-20170409065014-e1f439676b57
	github.com/leanovate/gopter v0.2.11
	github.com/stretchr/testify v1.12.1
	golang.org/x/time v0.14.0
	gonum.org/v1/gonum v0.17.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
