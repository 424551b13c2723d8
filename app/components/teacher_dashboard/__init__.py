"""Teacher mode: the class dashboard (/teach), presenter view, export, reset and archives, scenario
links; and ClassName, a learner's optional display name, placed in a chapter with
<div data-component="ClassName"></div>."""

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from app import i18n
from app.components import Component, register
from app.components.htmx import require_htmx
from app.components.teacher_dashboard import api, service, strings, views
from app.components.teacher_dashboard.auth import TeacherAuth
from app.components.teacher_dashboard.classroom import Classroom
from app.i18n import request_lang
from app.sessions import has_session, session_id
from app.templating import templates

PREFIX = "/components/class-name"
name_router = APIRouter(prefix=PREFIX, include_in_schema=False)


def on_startup(app) -> None:
    app.state.teacher_auth = TeacherAuth(app.state.settings)
    app.state.teacher_auth.announce()
    app.state.classroom = Classroom(app.state.settings, app.state.jobs)


def in_class(request: Request) -> bool:
    room = getattr(request.app.state, "classroom", None)
    return bool(room and room.state.in_class(request.app.state.settings.teacher_cookie_hours))


def render_placeholder(request: Request, lang: str) -> Markup:
    # The same for every learner (the page is cached): the learner's own name loads with htmx.
    # Only while a teacher uses the dashboard: someone reading alone is not asked for a name.
    if not in_class(request):
        return Markup("")
    return Markup(templates.get_template("teacher/name.html").render(lang=lang, prefix=PREFIX))


def _name_form(request: Request, lang: str, message: str | None = None) -> Response:
    room = service.classroom(request)
    name = room.state.name(session_id(request)) if has_session(request) else None
    return templates.TemplateResponse(
        request,
        "teacher/name_form.html",
        {"lang": lang, "prefix": PREFIX, "name": name or "", "message": message},
    )


@name_router.get("/form", response_class=HTMLResponse)
def name_form(request: Request):
    return _name_form(request, request_lang(request))


@name_router.post("/form", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
def save_name(request: Request, name: str = Form("")):
    lang = request_lang(request)
    if not has_session(request):
        return _name_form(request, lang, i18n.t(lang, "tm.name_need_session"))
    saved = service.classroom(request).state.set_name(session_id(request), name[:200])
    message = i18n.t(lang, "tm.name_saved").format(name=saved) if saved else i18n.t(lang, "tm.name_cleared")
    return _name_form(request, lang, message)


router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)
router.include_router(api.learner_router)
router.include_router(name_router)

register(
    Component(
        name="ClassName",
        render=render_placeholder,
        router=router,
        on_startup=on_startup,
        version=in_class,
        strings=(strings.STRINGS,),
    )
)
