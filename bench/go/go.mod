module uvgobench

go 1.19
