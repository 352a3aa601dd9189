// placeholder: implementation lands on main shortly
